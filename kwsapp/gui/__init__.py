"""The desktop window (PySide6 + pyqtgraph). Imports Qt: load it lazily
(``kwsapp gui`` does, inside its ``run``)."""
