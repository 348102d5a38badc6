"""portal-accounts: the domain layer shared by every Lambda function."""
