"""The page for strategists: a local Solara web page over ecosim (``ecosim-app``).

The page layer sits on top of everything else: it composes configs (``ecosim.config``), runs
them into ordinary run directories (``ecosim.experiment``, ``ecosim.report``) and shows their
tables. Nothing in ecosim imports it, so the ``ecosim`` command never loads Solara.

Modules, one concept each:

* ``sources`` — the configs the page starts from: the default market, an experiment, a file;
* ``form`` — the key parameters the page edits, and checking an edit with the schema;
* ``runner`` — a run in the background: progress, cancel, its run directory, its error;
* ``run_dirs`` — where runs are written and opened from (under the results and runs roots only);
* ``series`` and ``charts`` — KPIs per firm over time, drawn for the page;
* ``compare`` — an experiment's arms with confidence intervals, and robustness results (HTML
  tables, every cell escaped);
* ``page`` — the Solara components; ``main`` — the console script.
"""
