"""What the editor's desk asks of a project, Qt-free: status, lines, takes, review, export, queue."""
