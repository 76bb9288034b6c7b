"""The example IVR: a greeting, a menu by digits or speech, a transfer to sales."""
