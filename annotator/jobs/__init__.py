"""Background jobs: the jobs table's state machine (``service``) and how a job's tasks reach a worker
(``dispatch``: Celery messages sent by task name, or the same code in this process).

Nothing here imports the link packages or ``worker/``: a link registers its job kind's runner (or
dispatcher) with :func:`annotator.jobs.service.register_runner` when it is imported, and the entry points
(CLI, worker, dashboard) import the links they use.
"""
