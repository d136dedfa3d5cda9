"""Typed errors a user can act on; every one carries a message that says what to change.

They live in one light module so the CLI and the server can catch them without importing the heavy
parts (H2O, PyTorch) that raise them.
"""


class HumanoraiError(Exception):
    """Base of every expected failure: shown as one line (CLI) or a 4xx message (API), never a traceback."""


class BundleError(HumanoraiError):
    """A bundle cannot be used: missing, unreadable, of another schema, or a file fails its checksum."""


class DataError(HumanoraiError):
    """The training data cannot be used; the message says which file, row or column."""


class TrainingError(HumanoraiError):
    """Training cannot start or finish; the message says what to change."""


class ClusterError(HumanoraiError):
    """The H2O cluster could not be started or reached."""


class JavaError(HumanoraiError):
    """No usable Java runtime for H2O (training) or the MOJOs (serving)."""


class MojoError(HumanoraiError):
    """A MOJO cannot be loaded or does not fit the bundle's TF-IDF features."""


class InputError(HumanoraiError, ValueError):
    """Texts or options given to the engine cannot be used; the message says why."""


class SettingsError(HumanoraiError, ValueError):
    """A serving option (backend, precision, device, window) cannot be used with this bundle or machine.

    Unlike a member whose files are broken, this is the user's choice and applies to every member it
    concerns, so loading stops with the message instead of serving without those members."""


class DocumentError(HumanoraiError):
    """A document (PDF, DOCX, TXT) cannot be read as text: corrupt, encrypted, without a text layer, not UTF-8.

    ``humanorai batch`` records it as the document's row instead of stopping; the message says what is wrong
    with the file and what to do about it."""


class UnsupportedFormat(DocumentError):
    """A file whose type no document reader handles; the message lists the accepted types."""
