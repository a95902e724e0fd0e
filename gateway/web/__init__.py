"""What every page the daemon serves to people shares (the operator console under
/ui/ and the requester portal under /portal/): templates with autoescape, the base
layout, English and Simplified Chinese catalogs, the viewer's time zone, pinned
front-end libraries served by the daemon itself, sessions, CSRF tokens, password
hashes and the client address behind trusted proxies."""
