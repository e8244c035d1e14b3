"""Label Studio sync: labeling config, tasks out (push), annotations in (pull, webhook).

The only package that imports ``label_studio_sdk``. Modules, one job each:
``config`` (labeling config XML from a taxonomy), ``client`` (connection and retries), ``tasks``
(item + prediction -> task JSON), ``results`` (annotation result -> validated fields), ``store``
(the database side of the sync), ``push``, ``pull`` and ``webhook``.
"""
