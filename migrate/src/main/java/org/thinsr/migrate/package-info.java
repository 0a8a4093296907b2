/** thinsr migrate: see DESIGN.md. */
package org.thinsr.migrate;
