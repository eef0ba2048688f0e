from django.apps import AppConfig


class PacsConfig(AppConfig):
    name = "pacs"
