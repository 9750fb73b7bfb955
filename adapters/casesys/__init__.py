"""The registration case system (不动产登记业务系统) as a webhook receiver: its simulator."""
