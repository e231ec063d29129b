"""The Encounter Habit: importer, newsletter and subscription tools beside the Pelican site."""
