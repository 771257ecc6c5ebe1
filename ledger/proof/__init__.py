"""What every reader of the topic proves before it applies anything.

Each message is an envelope whose own hash checks out (else it is poison), each position links
to the one before (`prev_hash`), two different messages for one position are a fork, and only
what a checkpoint signed by a trusted key covers is ever applied. Pure logic: the readers
(projector, rebuild, verify) feed it what they consume.
"""
