"""The built contract (openapi.yaml): shipped inside the package as ``cloud_backup_mock.spec``."""
