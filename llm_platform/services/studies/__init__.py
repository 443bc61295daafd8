"""User studies (issue 14): definitions and versions, balanced assignment, the participant
flow, the researcher's live view, tidy exports, withdrawal and retention, pilots."""
