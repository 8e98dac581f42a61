"""The error tree: every message says what was received, what was expected and what to do."""


class PostqaError(Exception):
    """Base of every error postqa raises on purpose; the CLI prints these without a traceback."""


class ConfigError(PostqaError):
    """A config key has a value that is not allowed."""


class CorpusError(PostqaError):
    """An article file cannot be read or parsed."""


class ModelNotAvailableError(PostqaError):
    """An embedding (or generator) model cannot be found offline."""


class IndexMissingError(PostqaError):
    """No index is built for the configured embedding model."""


class IndexMismatchError(PostqaError):
    """The index on disk was built by another model or chunking than the config asks for."""


class StoreUnavailableError(PostqaError):
    """The Chroma store (embedded directory or server) cannot be reached."""


class IngestLockedError(PostqaError):
    """Another ingest is writing to the same store."""


class ProviderError(PostqaError):
    """A generator provider failed (timeout, HTTP error, bad reply)."""


class PruneRefusedError(PostqaError):
    """An ingest would remove more of the index than [ingest] max_prune_fraction allows."""


class InputError(PostqaError):
    """A value given by a user (a flag, a line of input, an API field) is not of the expected type or form."""
