"""Space-time volumes of interest (STVI): object-part tubes and their evaluation.

Work in progress (issue 5): the evaluation measures are in :mod:`motionlab.stvi.metrics`;
the tube pipeline follows.
"""
