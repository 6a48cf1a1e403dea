"""The earlier app's backups: telling them apart (a zip of its database and images, a bare
database, its oldest whole-database JSON export), reading them, and bringing them in through
the import of its data (`backups`), with the record of an import that has not finished
(`import_marker`)."""
