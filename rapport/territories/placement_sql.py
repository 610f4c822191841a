"""Placement of whole tables in SQL, for realignment (its preview and its run).

The active territories' rules (the same `Placer` the per-record path evaluates in Python)
become one `CASE WHEN <territory 1's checks> THEN 1 WHEN … END` over the record's columns,
so a batch of records is placed by the database: one statement puts only the records
whose territory changes (id, old, new) into a temporary table, the memberships are
rewritten from it set-based (DELETE, UPDATE … FROM, INSERT … SELECT) and the
`territory_changed` events built by one INSERT … SELECT (`apply_batch`). The preview runs the same moves
query over the whole table with a GROUP BY, so what it shows is what the run moves.

Equivalence with `placement.Placer.territory_for` (tested on a planted dataset with every
rule kind, both backends): text rules compare the trimmed, lower-cased value; postcodes
drop whitespace, upper-case, and compare numerically when the value and both bounds are all
digits (leading zeros ignored, as Python's zero-fill does), byte-wise otherwise (COLLATE "C"
on PostgreSQL); revenue bands compare the decimal; named accounts match the account's id, a
lead's trimmed lower-cased company against the named accounts' names. One difference:
case folding of non-ASCII letters is the database's (SQLite's lower() folds ASCII only)."""

from __future__ import annotations

from django.db import connection

from rapport.territories import placement
from rapport.territories.models import RuleField, Territory, TerritoryMembership

_WS = (" ", "\t", "\n", "\r", "\f", "\v")


def _pg() -> bool:
    return connection.vendor == "postgresql"


def _text(column: str) -> tuple[str, list]:
    """lower(trim(coalesce(column, ''))) with Python's whitespace set."""
    trim = "btrim" if _pg() else "trim"
    return f"lower({trim}(coalesce({column}, ''), %s))", ["".join(_WS)]


def _postcode_expr(column: str) -> tuple[str, list]:
    expr, params = f"coalesce({column}, '')", []
    for ch in _WS:
        expr = f"replace({expr}, %s, '')"
        params.append(ch)
    return f"upper({expr})", params


def _digits_test(expr: str) -> str:
    return f"({expr} ~ '^[0-9]+$')" if _pg() else f"({expr} <> '' AND {expr} NOT GLOB '*[^0-9]*')"


def _collate(expr: str) -> str:
    return f'({expr} COLLATE "C")' if _pg() else expr


def _num_cmp(z: str, bound: str, op: str) -> tuple[str, list]:
    """Digit strings compared as numbers: z (leading zeros stripped in SQL) op bound."""
    b = bound.lstrip("0")
    strict = ">" if op == ">=" else "<"
    return (
        f"(length({z}) {strict} %s OR (length({z}) = %s AND {_collate(z)} {op} %s))",
        [len(b), len(b), b],
    )


def _postcode_sql(check, column: str) -> tuple[str, list]:
    low, high = placement._postcode(check.low), placement._postcode(check.high)
    v, vp = _postcode_expr(column)
    string_parts, string_params = [], []
    if low:
        string_parts.append(f"{_collate(v)} >= %s")
        string_params += [*vp, low]
    if high:
        string_parts.append(f"{_collate(v)} <= %s")
        string_params += [*vp, high]
    string_sql = " AND ".join(string_parts) or "1=1"
    numeric_bounds = (not low or low.isdigit()) and (not high or high.isdigit())
    if not numeric_bounds:
        return f"({v} <> '' AND {string_sql})", [*vp, *string_params]
    z = f"ltrim({v}, '0')"
    num_parts, num_params = [], []
    for bound, op in ((low, ">="), (high, "<=")):
        if bound:
            sql, params = _num_cmp(z, bound, op)
            num_parts.append(sql)
            # z appears three times in each comparison
            num_params += [*vp, params[0], *vp, params[1], *vp, params[2]]
    num_sql = " AND ".join(num_parts) or "1=1"
    digits = _digits_test(v)
    digits_params = vp * (1 if _pg() else 2)
    return (
        f"({v} <> '' AND CASE WHEN {digits} THEN ({num_sql}) ELSE ({string_sql}) END)",
        [*vp, *digits_params, *num_params, *string_params],
    )


def _check_sql(object_type: str, check, alias: str) -> tuple[str, list]:
    fields = placement._ROW_FIELDS[object_type]
    field = check.field
    if field == RuleField.NAMED:
        if object_type == "account":
            ids = [int(v) for v in check.values if v.isdigit() and str(int(v)) == v]
            if not ids:
                return "1=0", []
            return f"{alias}.id IN ({', '.join(['%s'] * len(ids))})", ids
        if not check.names:
            return "1=0", []
        expr, params = _text(f"{alias}.company")
        names = sorted(check.names)
        return f"{expr} IN ({', '.join(['%s'] * len(names))})", [*params, *names]
    if field not in fields:
        return "1=0", []
    column = f"{alias}.{field}"
    if field == RuleField.POSTCODE:
        return _postcode_sql(check, column)
    if field == RuleField.REVENUE:
        low, high = placement._decimal(check.low), placement._decimal(check.high)
        parts, params = [f"{column} IS NOT NULL"], []
        if low is not None:
            parts.append(f"{column} >= %s")
            params.append(low)
        if high is not None:
            parts.append(f"{column} <= %s")
            params.append(high)
        return "(" + " AND ".join(parts) + ")", params
    if not check.values:
        return "1=0", []
    expr, params = _text(column)
    values = sorted(check.values)
    return f"{expr} IN ({', '.join(['%s'] * len(values))})", [*params, *values]


def territory_case(object_type: str, placer: placement.Placer, alias: str = "r"):
    """(sql, params): the territory id the rules give the row `alias`, or NULL."""
    whens, params = [], []
    for territory_id, checks in placer.order:
        parts = []
        for check in checks:
            sql, p = _check_sql(object_type, check, alias)
            parts.append(f"({sql})")
            params += p
        whens.append(f"WHEN {' AND '.join(parts)} THEN %s")
        params.append(territory_id)
    if not whens:
        return "CAST(NULL AS bigint)" if _pg() else "NULL", []
    return f"CASE {' '.join(whens)} ELSE NULL END", params


def _placed_sql(object_type: str, placer, lo: int | None, hi: int | None):
    """SELECT id, old, new of the live records in [lo, hi) (all when None)."""
    model = placement.model_of(object_type)
    table = model._meta.db_table
    case, params = territory_case(object_type, placer)
    where, wparams = ["r.deleted_at IS NULL"], []
    if lo is not None:
        where.append("r.id >= %s AND r.id < %s")
        wparams += [lo, hi]
    membership = TerritoryMembership._meta.db_table
    sql = (
        f"SELECT r.id AS id, m.territory_id AS old, {case} AS new "  # noqa: S608 - our names
        f"FROM {table} r LEFT JOIN {membership} m "
        f"ON m.object_type = %s AND m.object_id = r.id "
        f"WHERE {' AND '.join(where)}"
    )
    return sql, [*params, object_type, *wparams]


def _distinct() -> str:
    return "IS DISTINCT FROM" if _pg() else "IS NOT"


def batch_moves(object_type: str, placer, lo: int, hi: int) -> tuple[int, list[tuple]]:
    """(records scanned, [(id, old, new)] of those whose territory changes) for [lo, hi)."""
    sql, params = _placed_sql(object_type, placer, lo, hi)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*), count(*) FILTER (WHERE old {_distinct()} new) FROM ({sql}) p",  # noqa: S608
            params,
        )
        (scanned, changed) = cursor.fetchone()
        if not changed:
            return scanned, []
        cursor.execute(
            f"SELECT id, old, new FROM ({sql}) p WHERE old {_distinct()} new ORDER BY id",  # noqa: S608
            params,
        )
        return scanned, [tuple(row) for row in cursor.fetchall()]


def preview(object_type: str, placer, sample: int) -> tuple[int, list[tuple], list[tuple]]:
    """(scanned, [(old, new, count)], first `sample` moves [(id, old, new, label)])."""
    model = placement.model_of(object_type)
    sql, params = _placed_sql(object_type, placer, None, None)
    label = "name" if object_type == "account" else "company"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT old, new, count(*) FROM ({sql}) p "  # noqa: S608
            f"GROUP BY old, new",
            params,
        )
        groups = cursor.fetchall()
        scanned = sum(n for _, _, n in groups)
        flows = [(old, new, n) for old, new, n in groups if old != new]
        cursor.execute(
            f"SELECT p.id, p.old, p.new, t.{label} FROM ({sql}) p "  # noqa: S608
            f"JOIN {model._meta.db_table} t ON t.id = p.id "
            f"WHERE p.old {_distinct()} p.new ORDER BY p.id LIMIT %s",
            [*params, sample],
        )
        samples = cursor.fetchall()
    return scanned, flows, samples


_MOVES = "territory_moves_batch"  # per-connection temporary table of one batch's moves


def _moves_table(cursor) -> None:
    """The temporary table of a batch's moves, created once per connection and emptied."""
    cursor.execute(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {_MOVES} "
        "(id bigint PRIMARY KEY, old bigint NULL, new bigint NULL)"
    )
    cursor.execute(f"TRUNCATE {_MOVES}" if _pg() else f"DELETE FROM {_MOVES}")  # noqa: S608


def _payload_sql() -> str:
    build = "jsonb_build_object" if _pg() else "json_object"
    return f"{build}('territory', {build}('old', mv.old, 'new', mv.new), 'reason', %s)"


def apply_batch(
    object_type: str, placer, lo: int, hi: int, *, now, actor_id: int | None, reason: str
) -> tuple[int, list[tuple]]:
    """Realign the live records in [lo, hi) set-based, in the caller's transaction: the
    moves (id, old, new) go into a temporary table with one INSERT … SELECT of the rules'
    CASE; the memberships are rewritten from it with one DELETE, one UPDATE … FROM and one
    INSERT … SELECT; the `territory_changed` events (summary with the territories' names,
    payload {"territory": {"old", "new"}, "reason"}) with one INSERT … SELECT. Returns
    (records scanned, the moves) — the moves for the timeline listeners."""
    from rapport.timeline.models import TimelineEvent

    sql, params = _placed_sql(object_type, placer, lo, hi)
    table = placement.model_of(object_type)._meta.db_table
    membership = TerritoryMembership._meta.db_table
    when = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM {table} WHERE deleted_at IS NULL AND id >= %s AND id < %s",  # noqa: S608
            [lo, hi],
        )
        scanned = cursor.fetchone()[0]
        _moves_table(cursor)
        cursor.execute(
            f"INSERT INTO {_MOVES} (id, old, new) "  # noqa: S608 - our own names
            f"SELECT id, old, new FROM ({sql}) p WHERE old {_distinct()} new",
            params,
        )
        cursor.execute(f"SELECT id, old, new FROM {_MOVES} ORDER BY id")  # noqa: S608
        moves = [tuple(row) for row in cursor.fetchall()]
        if not moves:
            return scanned, moves
        cursor.execute(
            f"DELETE FROM {membership} WHERE object_type = %s AND object_id IN "  # noqa: S608
            f"(SELECT id FROM {_MOVES} WHERE new IS NULL)",
            [object_type],
        )
        cursor.execute(
            f"UPDATE {membership} SET territory_id = mv.new, placed_at = %s "  # noqa: S608
            f"FROM {_MOVES} mv WHERE {membership}.object_type = %s "
            f"AND {membership}.object_id = mv.id "
            "AND mv.old IS NOT NULL AND mv.new IS NOT NULL",
            [when, object_type],
        )
        # A concurrent placement of the same new record wins; ours is then moot.
        cursor.execute(
            f"INSERT INTO {membership} (object_type, object_id, territory_id, placed_at) "  # noqa: S608
            f"SELECT %s, id, new, %s FROM {_MOVES} WHERE old IS NULL AND new IS NOT NULL "
            "ON CONFLICT (object_type, object_id) DO NOTHING",
            [object_type, when],
        )
        territory = Territory._meta.db_table
        summary = (
            "substr('Territory: ' || coalesce(t_old.name, 'none') || ' → ' || "
            "coalesce(t_new.name, 'none'), 1, 300)"
        )
        cursor.execute(
            f"INSERT INTO {TimelineEvent._meta.db_table} "  # noqa: S608
            f"(kind, actor_id, occurred_at, summary, payload, {object_type}_id) "
            f"SELECT 'territory_changed', %s, %s, {summary}, {_payload_sql()}, mv.id "
            f"FROM {_MOVES} mv LEFT JOIN {territory} t_old ON t_old.id = mv.old "
            f"LEFT JOIN {territory} t_new ON t_new.id = mv.new ORDER BY mv.id",
            [actor_id, when, reason],
        )
    return scanned, moves
