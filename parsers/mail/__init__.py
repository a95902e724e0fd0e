"""Helpers of the email parser (``parsers/email.py``), one job per module.

- ``options``: the parser's options (a frozen pydantic model).
- ``reading``: one message being read; each piece of its event read once.
- ``charsets``: charset names to codecs, and decoding that never gives up.
- ``headers``: raw header values, RFC 2047 words, Message-ID lists.
- ``addresses``: From/To/Cc parsing that refuses ambiguous addresses.
- ``params``: Content-Type / Content-Disposition parameters (RFC 2045, 2231).
- ``bounded``: the stdlib parser run within part, depth and header limits.
- ``parts``: the MIME tree walked for text, attachments and bounced Message-IDs.
- ``text``: HTML to text; quoted history and signatures stripped.
- ``classify``: incident keys, subject normalisation, auto-replies and bounces.
- ``monitoring``: Nagios/Icinga and Zabbix notification subjects and bodies.
"""
