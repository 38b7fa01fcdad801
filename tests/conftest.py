"""Settings shared by the test process and every service process it starts."""

import os

# A small bound on embed.bulk, so that the flood test fills it quickly. Every declarer of the
# queue (gateway, workers, this process) must use the same bound, hence the environment.
os.environ.setdefault("EMBEDAPP_QUEUE_MAX_LENGTH", "20")
