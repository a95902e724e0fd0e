"""Service reports: figures from the database (storage.reports), service time from the
rules' calendars, and their forms: JSON and CSV over HTTP, files from the CLI."""
