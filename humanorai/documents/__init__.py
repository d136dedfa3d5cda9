"""Documents in: the text of a PDF, DOCX or TXT file, one reader per format.

:mod:`humanorai.documents.readers` picks the reader by file name; ``humanorai batch`` reads files and
folders with it, and a file upload can read bytes with it. A document that cannot be read raises
:class:`~humanorai.errors.DocumentError` with a message that says why and what to do.
"""
