"""Camio's default counter rules (incidents.default_rules.DEFAULT_RULES)."""

from django.db import migrations


def create_defaults(apps, schema_editor):
    from incidents.default_rules import DEFAULT_RULES, default_rule

    CounterRule = apps.get_model("incidents", "CounterRule")
    for rule in DEFAULT_RULES:
        fields = default_rule(rule["counter"])
        CounterRule.objects.update_or_create(counter=fields.pop("counter"), defaults=fields)


def remove_defaults(apps, schema_editor):
    apps.get_model("incidents", "CounterRule").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("incidents", "0001_counters_and_incidents")]
    operations = [migrations.RunPython(create_defaults, remove_defaults)]
