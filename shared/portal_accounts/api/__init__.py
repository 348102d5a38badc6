"""HTTP edge shared by every handler: resolver factory, problem documents, schemas."""
