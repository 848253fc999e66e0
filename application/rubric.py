"""The version of the year-end evaluation rubric recorded with every grade."""

RUBRIC_VERSION = "2019.1"
