"""gunicorn settings; override with GUNICORN_CMD_ARGS or the environment."""

import os

bind = f"127.0.0.1:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "sync"  # scripts are time-limited with SIGALRM on the main thread
timeout = 30
graceful_timeout = 10
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
# gunicorn's default format plus the request id the app answers with (app/request_ids.py).
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %({x-request-id}o)s'
errorlog = "-"

# Python's cyclic garbage collector, tuned for a long-lived request worker (0 keeps Python's own):
# a first-generation collection after this many new container objects instead of 700. A request
# allocates tens of thousands (ORM rows, the workflow's task tree), so the default collects
# dozens of times per request and finds little to free.
gc_gen0_threshold = int(os.environ.get("GUNICORN_GC_GEN0", "10000"))


def post_worker_init(worker):
    """The app is loaded in this worker: move everything loading it made (modules, compiled
    diagrams, the ORM's mappers) out of the collector's reach, so that no collection walks it
    again, and apply ``gc_gen0_threshold``."""
    import gc

    gc.collect()
    gc.freeze()
    if gc_gen0_threshold > 0:
        # The older generations keep Python's ratios (every 10th young collection, every 10th of
        # those): raising them too let cyclic garbage that outlived one collection pile up
        # between full collections (bench/memory.py, docs/performance.md).
        _, gen1, gen2 = gc.get_threshold()
        gc.set_threshold(gc_gen0_threshold, gen1, gen2)
