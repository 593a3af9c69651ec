"""``python -m cloud_backup_mock``: the ``cloud-backup-mock`` command."""

from .cli import main

main()
