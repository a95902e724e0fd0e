"""The requester portal: status pages behind signed links, the intake form, ratings."""
