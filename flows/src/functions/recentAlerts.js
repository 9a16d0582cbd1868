// Body of the "recent alerts" function node: what the inbox has received, newest first.
const stats = flow.get('stats') || { received: 0, rejected: 0 };
msg.payload = { received: stats.received, rejected: stats.rejected, recent: flow.get('recent') || [] };
msg.headers = { 'content-type': 'application/json' };
return msg;
