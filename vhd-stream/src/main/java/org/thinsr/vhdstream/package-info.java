/** thinsr vhd-stream: see DESIGN.md. */
package org.thinsr.vhdstream;
