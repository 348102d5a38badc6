"""Every email of the product: templates, the queue request, the log, the sender."""
