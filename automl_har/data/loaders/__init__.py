"""One module per dataset, each reading the publisher's own file format and registering itself."""
