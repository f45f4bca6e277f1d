"""Audio classification: short spoken clips (e.g. digits) read from WAV files, turned into
log-mel or MFCC frames, and classified by a convolutional-recurrent network."""
