"""Numeric core of Rapport's analytical CRM: pure numpy/scipy/pandas/scikit-learn, no Django.

Modules, each usable on its own:

- ``summary``: transactions (customer, date, amount) -> per-customer (frequency, recency, T,
  monetary) with an optional calibration/holdout split.
- ``histories``: validation and compression of (x, t_x, T) purchase histories.
- ``optimize``: the log-parameter L-BFGS-B maximum-likelihood driver the models share.
- ``bgnbd``, ``paretonbd``: BG/NBD and Pareto/NBD purchase models (maximum likelihood).
- ``gammagamma``: Gamma-Gamma spend model.
- ``clv``: discounted customer lifetime value and model-fit reports (calibration vs holdout).
- ``rfm``: RFM quintile scores and named segments, with thresholds and rules as data.
- ``cohorts``: retention matrices and the shifted-beta-geometric (sBG) retention model.
- ``basket``: item co-occurrence, association rules, bundles; ``recommend``: next-best
  products, up-sell and hit-rate evaluation.
- ``churn``: supervised churn classifier against a recency-only baseline.
- ``kpis``: customer-base KPIs (repeat rate, churn rate, AOV, frequency, CLV distribution).
- ``profitability``: revenue minus cost to serve minus attributed marketing cost.
- ``simulate``: synthetic customer bases with known parameters (tests, benchmark).

Time is measured in whatever unit the caller chooses (weeks in the CDNOW examples); every
model's parameters are then in that unit.
"""
