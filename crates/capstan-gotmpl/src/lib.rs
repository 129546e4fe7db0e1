//! Go's text/template language, parsed and translated into minijinja source.
