/** The thinsr command-line tool. */
package org.thinsr.cli;
