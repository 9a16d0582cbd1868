import { h } from 'preact';
import htm from 'htm';

/** JSX-like templates without a build step (htm); one binding for every view. */
export const html = htm.bind(h);
