"""The ingest job: landing files -> bronze (raw text, once per batch) -> silver (typed, versioned),
with every rejected record in quarantine and every record waiting for its parent in pending."""
