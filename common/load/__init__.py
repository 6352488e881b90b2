"""The load stage: chunk messages into the samples table with binary COPY and a chunk ledger."""
