"""The delivery engine: policy (what answers mean, retries, masking), network
guard (SSRF), signing, transports (aiohttp batches, requests single sends),
claiming and recording."""
