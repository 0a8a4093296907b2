/** thinsr http-export: see DESIGN.md. */
package org.thinsr.httpexport;
