/** thinsr lifecycle: see DESIGN.md. */
package org.thinsr.lifecycle;
