"""The dashboard page: what it shows, how it is drawn, and how it answers clicks.

Where things go:

- ``ids.py``: every component id (one constant each), shared by components, callbacks
  and browser tests.
- ``view_model.py``: :class:`~dashboard.page.view_model.PageNumbers`, everything the page
  shows for one as-of date (summary, week, site table, accrual, forecast), computed once
  by :func:`~dashboard.page.view_model.page_numbers` and kept in a
  :class:`~dashboard.page.view_model.NumbersCache`.
- ``wording.py``: numbers into sentences (also used by the mail).
- ``components/``: one module per part of the page (header, alerts, KPI cards, week card,
  forecast cards and table, charts, sites grid, print table, panels); each is a function
  of ``PageNumbers`` (and the trial data) returning Dash components.
- ``layout.py``: the page assembled from the components (``serve_layout``, ``error_page``).
- ``callbacks.py``: the page's callbacks with NAMED outputs; ``REFRESH`` lists what changes
  with the as-of date, the status filter and the selection.
- ``replies.py``: the main callback's encoded outputs, kept per view (``OutputsCache``).
- ``shared_replies.py``: replies to a date change shared by the workers of a data dir, on
  disk in ``<data dir>/.cache`` (``SharedReplies``).
- ``warmup.py``: the background process that computes the 12 recent weekly as-of dates
  into it after start and after each data change (``Warmer``).
- ``downloads.py``: the Export menus' tables and the snapshot PDF/PNG buttons.

To add a KPI card: word its numbers in ``wording.py`` (from ``PageNumbers``; add a field
to ``PageNumbers`` / ``page_numbers`` if it needs a new number), build it in
``components/kpi_cards.py`` with ``card(...)`` and place it in a ``dbc.Col`` of a row.
It refreshes with the as-of date through the existing ``kpis`` output: nothing else.

To add a chart: a figure builder in ``dashboard/figures/<name>.py`` (plain data in, a
figure out); a ``<name>_chart(numbers, ...)`` entry in ``components/charts.py``; an id in
``ids.py``; a panel in ``layout.py`` (``panel(...)`` with ``graph(ids.X, ...)``); and one
named output: ``"<name>": Output(ids.X, "figure")`` in ``callbacks.REFRESH`` with its
value in ``callbacks.refresh_outputs``.
"""
