"""The default scenarios and world.yaml: shipped inside the package as ``cloud_backup_mock.scenarios``."""
