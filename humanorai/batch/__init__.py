"""``humanorai batch``: score files, folders and tables of texts into a JSONL or CSV file, resumably.

The parts, in the order a run uses them: :mod:`~humanorai.batch.inputs` finds the inputs and reads them as
items (an id and a text, or why there is none), with :mod:`~humanorai.batch.tables` for CSV/JSONL rows and
:mod:`humanorai.documents` for PDF, DOCX and TXT; :mod:`~humanorai.batch.scoring` turns a chunk of items
into output rows through the engine (shape in :mod:`~humanorai.batch.rows`); :mod:`~humanorai.batch.output`
appends them to OUT and reads back what a killed run left; :mod:`~humanorai.batch.runner` ties these into a
run with a progress bar. :mod:`~humanorai.batch.partition` scores a pandas frame the same way, for Spark or
Ray workers.
"""
