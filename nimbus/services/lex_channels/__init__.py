"""Lex V2 channel integrations: a bot alias and locale that users reach from Slack, Twilio SMS or
Facebook Messenger. Lex V2's API has no public channel operations, so channels are made with
``nimbus channels create`` and kept in the database; each platform calls its channel's webhook on
Nimbus's port, which checks the platform's signature, takes the user's turn through the Lex runtime,
and answers the way that platform expects."""
