/** thinsr qmp-client: see DESIGN.md. */
package org.thinsr.qmpclient;
