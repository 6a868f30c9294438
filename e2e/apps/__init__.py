"""Our own Ray Serve test applications (Ray Serve 2.60 API) and the zips the local samples point at.

- ``fruit_market/fruit.py``: ``fruit.deployment_graph``, the fruit market of the RayService user guide. POST
  ``["MANGO", 2]`` -> ``6`` (MangoStand 3, OrangeStand 2, PearStand 1, each price a ``user_config`` applied in place
  by ``reconfigure``); an unknown fruit -> ``-1``.
- ``calculator/conditional_dag.py``: ``conditional_dag.serve_dag``, the second application of the multi-app
  sample. POST ``["ADD", 2]`` -> ``"5 pizzas please!"`` (Adder ``increment`` 3), ``["MUL", 3]`` ->
  ``"15 pizzas please!"`` (Multiplier ``factor`` 5); an unknown operation -> ``"unknown operation"``.

Each directory is one ``working_dir``: ``python -m e2e.apps.package`` zips them to
``/var/lib/localcluster/apps/<dir>.zip``, the ``file://`` URIs of the ``*_local.yaml`` samples (a place every pod
sees: pods get a private ``/tmp``).
"""
