"""PostgreSQL: the carried names of the existing email and phone rows, from their contact
(schema.pg_names_fill_sql; new writes are kept by 0006's triggers). Before 0008's index,
so that the fill does not update it row by row."""

from django.db import migrations

from rapport.search.operations import VendorRunSQL

# A frozen copy of schema.pg_names_fill_sql() (test_schema checks it).
PG_FILL = [
    'UPDATE accounts_contactemail AS r SET record_last_name = m.last_name, record_first_name = m.first_name FROM accounts_contact AS m WHERE m.id = r.contact_id',
    'UPDATE accounts_contactphone AS r SET record_last_name = m.last_name, record_first_name = m.first_name FROM accounts_contact AS m WHERE m.id = r.contact_id',
]


class Migration(migrations.Migration):
    dependencies = [("search", "0006_record_names")]

    operations = [VendorRunSQL("postgresql", PG_FILL, migrations.RunSQL.noop)]
