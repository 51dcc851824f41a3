"""The web console: server-rendered pages (Jinja2) over Nimbus's own API, at ``CONSOLE_PREFIX``.

The console is a client. Every page and every action is made of API calls that go through the
gateway's dispatch and authorization step as the signed-in user (see ``api.py``); it never reads
storage itself. Every page has a JSON twin (the same URL, ``Accept: application/json``).
"""

# a path no S3 bucket can take: bucket names never start with "_"
CONSOLE_PREFIX = "/_nimbus/console"
