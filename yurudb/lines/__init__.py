"""A transcript line kept byte-exact: the codec, the compressed runs that hold lines, and what a line means."""
