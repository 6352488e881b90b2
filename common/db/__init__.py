"""Database access: connections, migrations, binary COPY, session bookkeeping."""
