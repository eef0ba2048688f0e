"""The incidents REST API: a Box posts its counter reports."""
